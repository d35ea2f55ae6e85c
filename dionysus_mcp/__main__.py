from dionysus_mcp.cli import main

raise SystemExit(main())
