"""Hall device health (设备状态): what kiosks and gateways report about their devices."""
