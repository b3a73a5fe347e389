"""Accounts for team mode: argon2 passwords, username rules, creating and managing accounts, project memberships,
and who acts (`actor_as`). No account at all means personal mode: the one person using the studio is its owner."""
