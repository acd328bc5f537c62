"""Shared package for the RLVR reasoning-boundary study.

Everything the notebooks, the workflow and the tests do lives in the submodules of this
package; importing ``analysis`` itself is cheap and loads nothing heavy.
"""

__version__ = "0.1.0"
