"""``flowlog serve``: TensorFlow Serving's REST API over exports written by
:mod:`flowlog.saved_model`, with hot version swaps and its own traffic logged as a flowlog run.

Modules: ``errors`` (the HTTP-mapped error), ``rest`` (the wire protocol: routes, request
decoding, response encoding), ``config`` (model config and batching parameter files),
``models`` (versions per model: discovery, loading, swaps, handles), ``batching`` (optional
request batching), ``metrics`` (the serving run), ``app`` (the WSGI application) and
``server`` (the command line and the HTTP server).
"""
