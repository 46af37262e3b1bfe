"""The Gradio app: ``build_demo()`` (layout + wiring), ``launch_kwargs()``; the word table is ``qwenvl_viz.words``.

Imports are lazy so that importing the package stays light.
"""

__all__ = ["build_demo", "launch_kwargs", "AppConfig", "warm_up"]


def __getattr__(name: str):
    if name in __all__:
        from . import layout

        return getattr(layout, name)
    raise AttributeError(f"module 'qwenvl_viz.ui' has no attribute {name!r}")
