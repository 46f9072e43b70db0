"""Fixtures for the OAI-PMH tests: the test repository of ``oai_repository``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from wsgiref.simple_server import WSGIServer, make_server

import pytest
from oaipmh.metadata import MetadataRegistry
from oaipmh.server import Server

from oai_repository import (
    BATCH_SIZE,
    SECOND,
    OaiTestServer,
    RecordStore,
    StoredRecord,
    _QuietHandler,
    _ThreadingWSGIServer,
    build_records,
    free_port,
    marc21_writer,
)


@pytest.fixture
def make_oai_server() -> Iterator[Callable[..., OaiTestServer]]:
    """Start repositories: ``make_oai_server(granularity=..., records=..., batch_size=...)``."""
    running: list[tuple[WSGIServer, threading.Thread]] = []

    def start(
        *,
        granularity: str = SECOND,
        records: list[StoredRecord] | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> OaiTestServer:
        port = free_port()
        url = f"http://127.0.0.1:{port}/oai"
        registry = MetadataRegistry()
        registry.registerWriter("marc21", marc21_writer)
        store = RecordStore(build_records() if records is None else records, granularity, url)
        repository = OaiTestServer(
            url=url,
            store=store,
            server=Server(store, registry, resumption_batch_size=batch_size),
            batch_size=batch_size,
        )
        httpd = make_server(
            "127.0.0.1",
            port,
            repository,
            server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        running.append((httpd, thread))
        return repository

    yield start
    for httpd, thread in running:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def oai_server(make_oai_server: Callable[..., OaiTestServer]) -> OaiTestServer:
    """The test repository with second granularity and pages of seven records."""
    return make_oai_server()
