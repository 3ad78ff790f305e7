from attendance.entrypoints.cli import main

raise SystemExit(main())
