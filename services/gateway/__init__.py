"""The hall device gateway (设备网关): serial buses of keypads, LED boards and evaluation pads
on one side, the ticket engine on the other. See docs/gateway.md."""
