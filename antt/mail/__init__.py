"""Every e-mail antt sends: reminders, the leadership report, scorecards and failure notices, through one outbox."""
