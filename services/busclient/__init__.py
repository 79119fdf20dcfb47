"""Client of the jiaohao hall event bus: snapshot, ordered events, resume on reconnect."""

from services.busclient.client import BusClient, BusRefused, events_url

__all__ = ["BusClient", "BusRefused", "events_url"]
