"""Signing in at the front door (team mode): the password check with its growing delay after failures, single
sign-on through Streamlit's st.login, and whether a browser's stored session still holds. These take the store, not an
acting user: nobody acts before signing in.
"""

from __future__ import annotations

from core.accounts.manage import team_mode as team_mode
from core.accounts.sessions import SessionCheck as SessionCheck
from core.accounts.sessions import check_session as check_session
from core.accounts.sessions import end_session as end_session
from core.accounts.sessions import idle_limit_from_env as idle_limit_from_env
from core.accounts.sign_in import WRONG_CREDENTIALS as WRONG_CREDENTIALS
from core.accounts.sign_in import SignedIn as SignedIn
from core.accounts.sign_in import SignInResult as SignInResult
from core.accounts.sign_in import SignInThrottle as SignInThrottle
from core.accounts.sign_in import sign_in as sign_in
from core.accounts.sso import SsoResult as SsoResult
from core.accounts.sso import sign_in_with_sso as sign_in_with_sso
from core.store.accounts import find_account as find_account
