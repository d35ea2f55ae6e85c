from dionysus_mcp.surface.cli import main

raise SystemExit(main())
