"""The relay's multiplexer, shared by the queue and the worker (clients/relay/mux.py)."""

from .mux import Channel, ChannelClosedError, Mux, RelayLostError, Socket, StreamRefusedError

__all__ = ["Channel", "ChannelClosedError", "Mux", "RelayLostError", "Socket", "StreamRefusedError"]
