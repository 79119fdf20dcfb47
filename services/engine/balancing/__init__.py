"""Balanced calling across windows (均衡叫号): policy, wait estimates, tidal windows.

The modules ``policy``, ``estimates`` and ``tidal`` are pure rules (no FastAPI,
SQLAlchemy or I/O) shared by the engine and the day-in-the-hall simulator.
"""
