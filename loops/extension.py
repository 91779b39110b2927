"""``extensions.loopwright``: loopwright's own settings in a loop declaration, beyond LSS 1.0.

LSS 1.0 leaves ``extensions`` open; loopwright validates its own key as strictly as the
standard's objects (:class:`loops.lss._Strict`): unknown keys are errors with a line number.
"""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from loops.lss import PosInt, Text, _Strict


class TimeoutSettings(_Strict):
    """Per-test timeouts in seconds: ``max(min_seconds, factor * baseline seconds)``.

    ``default`` is for tests without a baseline duration; ``baseline`` for each test
    of the baseline run itself (durations not known yet).
    """

    # ranges that leave a test time to run: 1e-6 s or .inf would make every candidate fail
    min_seconds: Annotated[float, Field(ge=0, le=3600)] = 2.0
    factor: Annotated[float, Field(ge=1, le=1000)] = 10.0
    default: Annotated[float, Field(ge=0.5, le=86_400)] = 10.0
    baseline: Annotated[float, Field(ge=0.5, le=86_400)] = 60.0


class LoopwrightExtension(_Strict):
    """``extensions.loopwright``: loopwright's policy beyond LSS 1.0.

    ``protected_paths`` are globs over repo-relative POSIX paths that no patch may
    touch (a pattern without ``/`` matches the file name in any directory, ``dir/**``
    everything below ``dir``); ``editable_paths`` globs bound where patches may go.
    ``max_diff_lines`` counts added plus removed lines of one patch;
    ``candidates_per_iteration`` caps the patches tried per iteration; ``evaluators``
    holds free-form settings per evaluator id; ``lessons_file`` is repo-relative;
    ``pass_env`` names environment variables passed to test processes on top of the
    sandbox's allow-list (``sandbox.process.ENV_ALLOW``).
    """

    protected_paths: list[Text] = []
    editable_paths: list[Text] = ["**"]
    candidates_per_iteration: PosInt = 64
    max_diff_lines: PosInt = 40
    test_timeout: TimeoutSettings = TimeoutSettings()
    evaluators: dict[str, dict[str, Any]] = {}
    lessons_file: Text | None = ".loopwright/lessons.md"
    pass_env: list[Text] = []


class Extensions(BaseModel):
    """``extensions``: open object; ``loopwright`` is validated as :class:`LoopwrightExtension`."""

    model_config = ConfigDict(extra="allow", strict=True)
    loopwright: LoopwrightExtension | None = None
