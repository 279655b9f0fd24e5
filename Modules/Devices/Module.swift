// Module under construction; see the issue tracker.
