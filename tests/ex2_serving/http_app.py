"""Shared by the HTTP tests: an infer body, and the app over ASGI with every answer checked by oip.py."""
import contextlib

import numpy as np

from . import oip


def body(rows, **parameters) -> dict:
    rows = np.asarray(rows, dtype=float)
    doc = {"inputs": [{"name": "input-0", "shape": list(rows.shape), "datatype": "FP32",
                       "data": rows.ravel().tolist()}]}
    if parameters:
        doc["parameters"] = parameters
    return doc


@contextlib.asynccontextmanager
async def served(serving, registry, models, *, client_host="127.0.0.1", max_body_bytes=1 << 20, **options):
    """(client, server, app): `models` [(name, version)] loaded; each answer validated against the protocol."""
    server = serving.ModelServer(registry, trust=True, **options)
    try:
        for name, version in models:
            await server.load_model(name, version)
        app = serving.create_app(server, max_body_bytes=max_body_bytes)
        async with oip.asgi_client(app, client_host=client_host) as client:
            yield client, server, app
    finally:
        await server.close()
