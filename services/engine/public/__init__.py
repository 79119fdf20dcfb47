"""Public pages citizens reach without an account: the ticket status page behind the QR code."""
