"""Figures: pure functions from a Trace (and ready-made preview images) to plotly figures, HTML or
PIL images. They lay out numbers the library computed; they compute none of the pipeline themselves.

One module per view: ``ledger``, ``media``, ``timeline``, ``resize``, ``patch_grid``, ``rope``, ``prompt``,
``encoder``; ``pictures`` draws frames as small JPEGs (never JSON pixel arrays).
"""

__all__ = ["ledger", "media", "timeline", "resize", "patch_grid", "rope", "prompt", "encoder", "pictures"]
