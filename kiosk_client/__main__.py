from kiosk_client.cli import main

raise SystemExit(main())
