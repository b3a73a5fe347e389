"""Signing in at the front door (team mode): the password check with its growing delay after failures, and whether
a browser session's sign-in still holds. These take the store, not an acting user: nobody acts before signing in.
"""

from __future__ import annotations

from core.accounts.manage import team_mode as team_mode
from core.accounts.sign_in import WRONG_CREDENTIALS as WRONG_CREDENTIALS
from core.accounts.sign_in import SignedIn as SignedIn
from core.accounts.sign_in import SignInResult as SignInResult
from core.accounts.sign_in import SignInThrottle as SignInThrottle
from core.accounts.sign_in import idle_limit_from_env as idle_limit_from_env
from core.accounts.sign_in import session_actor as session_actor
from core.accounts.sign_in import sign_in as sign_in
from core.store.accounts import find_account as find_account
