"""Mails leave through the outbox, a real rq worker and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from redis import Redis as SyncRedis
from rq import Queue, SimpleWorker
from rq.registry import ScheduledJobRegistry

from broker.jobs.dispatcher import Dispatcher
from broker.store.keys import Keys
from broker.store.requests import OutboxJob


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[attr-defined]
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def dispatcher(redis_url: str, namespace: str) -> Iterator[Dispatcher]:
    client = SyncRedis.from_url(redis_url)
    yield Dispatcher(client, Keys(namespace), Queue(Keys(namespace).queue("default"),
                                                    connection=client))
    for key in client.scan_iter(match=f"*{namespace}*"):
        client.delete(key)
    client.close()


def queue_mail(dispatcher: Dispatcher, to: str) -> None:
    job = OutboxJob("send_mail", "A03-test", {"to": to, "subject": "Aktivacija računa",
                                              "body": "Pozdravljeni, Čuk!\nhttp://x/activate"})
    dispatcher.redis.rpush(dispatcher.keys.outbox(3), job.encode(0, 0))
    assert dispatcher.dispatch_once() == 1


def test_a_mail_job_sends_through_smtp(smtp: tuple[Inbox, int], dispatcher: Dispatcher,
                                       redis_url: str, namespace: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, port = smtp
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("ILLBROKER_NAMESPACE", namespace)
    monkeypatch.setenv("ILLBROKER_SMTP_URL", f"smtp://127.0.0.1:{port}")
    queue_mail(dispatcher, "ana.cuk@example.org")
    SimpleWorker([dispatcher.queue], connection=dispatcher.redis).work(burst=True)
    [message] = inbox.messages
    # rq logs each job's description: it must not carry the address or the link.
    [job] = dispatcher.queue.finished_job_registry.get_job_ids()
    assert "example.org" not in (dispatcher.queue.fetch_job(job).description or "")
    assert message["To"] == "ana.cuk@example.org"
    assert message["Subject"] == "Aktivacija računa"
    assert "Čuk" in message.get_content()  # type: ignore[attr-defined]


def test_a_dead_smtp_server_means_a_retry_not_a_lost_mail(
        dispatcher: Dispatcher, redis_url: str, namespace: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("ILLBROKER_NAMESPACE", namespace)
    monkeypatch.setenv("ILLBROKER_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    queue_mail(dispatcher, "ana.cuk@example.org")
    SimpleWorker([dispatcher.queue], connection=dispatcher.redis).work(burst=True)
    assert len(ScheduledJobRegistry(queue=dispatcher.queue)) == 1
