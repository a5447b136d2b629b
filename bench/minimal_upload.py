"""Baseline for the deposit benchmark: the smallest FastAPI multipart upload endpoint.

Run as ``python -m bench.minimal_upload PORT``; served by uvicorn with the same settings as
``zhenglian serve`` (one process, loopback).
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/upload")
async def upload(request: Request) -> JSONResponse:
    form = await request.form()
    data = await form["file"].read()  # type: ignore[union-attr]
    await form.close()
    return JSONResponse({"size": len(data)}, status_code=201)


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
