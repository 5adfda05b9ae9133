"""Dashboard views: each module has its layout and callbacks together.

A view module exposes ``TAB_ID``, ``TAB_LABEL``, ``layout(ctx)`` and ``register(app, ctx)``.
"""
