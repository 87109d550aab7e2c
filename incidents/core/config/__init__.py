"""A region's configuration: YAML files in one folder, validated with pydantic.

Every region lives in `config/regions/<name>/`. The files hold data (rubricator,
territories, bodies, routing, SLA policy, sources), never secrets: tokens come from the
environment only. Errors name the file and the key so that an operator can fix them.
"""

from __future__ import annotations

from incidents.core.config.base import (  # noqa: F401 - the package's face
    _EVERY,
    _UNIT_SECONDS,
    CATEGORY_CODES,
    NETWORKS,
    SCALES,
    ConfigError,
    JobSchedules,
    PrivacyPolicy,
    RegionInfo,
    _check_schedule,
    _Strict,
    parse_schedule,
)
from incidents.core.config.language import (  # noqa: F401 - the package's face
    DEFAULT_MODEL_NEGATIVES,
    DEFAULT_MODEL_TRAIN,
    LANGUAGE_DATA,
    Category,
    Fact,
    KeywordRule,
    Markers,
    Precedence,
    Rubricator,
    SignalModelPolicy,
    SignalPolicy,
    Subcategory,
    _all_rules,
)
from incidents.core.config.loader import (  # noqa: F401 - the package's face
    FILES,
    OPTIONAL_FILES,
    RegionConfig,
    _cross_check,
    _format_error,
    _merge_by_code,
    _read_mapping,
    _rubricator_data,
    load_file,
    load_region,
)
from incidents.core.config.places import (  # noqa: F401 - the package's face
    Bodies,
    Body,
    Contacts,
    Municipality,
    Place,
    Routing,
    RoutingRule,
    Territories,
)
from incidents.core.config.service import (  # noqa: F401 - the package's face
    AnswerTemplate,
    Calendar,
    ClockPolicy,
    ClusteringPolicy,
    Escalation,
    RepliesPolicy,
    RetryPolicy,
    SearchPolicy,
    SlaClocks,
    SlaOverride,
    SlaPolicy,
    SourceConfig,
    Sources,
)
