"""The sender algorithms of P2300 and stdexec, one algorithm family per private module."""

from ._just import just as just
from ._just import just_error as just_error
from ._just import just_stopped as just_stopped
from ._sync_wait import sync_wait as sync_wait
from ._then import then as then
from ._then import upon_error as upon_error
from ._then import upon_stopped as upon_stopped
