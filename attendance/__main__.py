from attendance.cli import main

raise SystemExit(main())
