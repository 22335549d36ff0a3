"""Fixtures every test file here shares."""

import socket

import pytest
import torch


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """The course works offline: any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tests use tiny nets: one torch thread is as fast, and far faster than two busy-waiting ones on a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
