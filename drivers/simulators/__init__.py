"""Simulated hall devices on pseudo-terminals, speaking the same protocols as real ones.

In tests::

    with SimulatedBus.from_config(bus_config, link=path) as sim:   # or sim.start() -> path
        sim.keypad(3).press_action(KeypadAction.CALL_NEXT)

From the command line: ``jiaohao devices simulate --config FILE`` (:func:`.cli.main`).
"""

from .bus import SimulatedBus
from .devices import BoardContent, SimDevice, SimEvaluator, SimKeypad, SimLedBoard
from .printer import PrintedTicket, SimulatedPrinter

__all__ = [
    "BoardContent",
    "PrintedTicket",
    "SimDevice",
    "SimEvaluator",
    "SimKeypad",
    "SimLedBoard",
    "SimulatedBus",
    "SimulatedPrinter",
]
