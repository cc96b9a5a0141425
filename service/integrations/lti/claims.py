"""The LTI 1.3 claim names and values the tool reads and writes (1EdTech LTI Core 1.3,
Deep Linking 2.0, Assignment and Grade Services 2.0, Dynamic Registration 1.0)."""

from __future__ import annotations

from enum import StrEnum

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = LTI + "message_type"
VERSION = LTI + "version"
DEPLOYMENT_ID = LTI + "deployment_id"
TARGET_LINK_URI = LTI + "target_link_uri"
RESOURCE_LINK = LTI + "resource_link"
ROLES = LTI + "roles"
CONTEXT = LTI + "context"
CUSTOM = LTI + "custom"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
DL_SETTINGS = DL + "deep_linking_settings"
DL_CONTENT_ITEMS = DL + "content_items"
DL_DATA = DL + "data"
DL_MSG = DL + "msg"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"

LTI_VERSION = "1.3.0"
SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCORE_MEDIA_TYPE = "application/vnd.ims.lis.v1.score+json"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# The custom parameter a placed activity carries: which question it is (our public id).
CUSTOM_QUESTION = "question_id"


class MessageType(StrEnum):
    RESOURCE_LINK = "LtiResourceLinkRequest"
    DEEP_LINKING = "LtiDeepLinkingRequest"
    DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"


class LaunchRole(StrEnum):
    """What a launch may do here, from its LTI roles."""

    INSTRUCTOR = "instructor"
    LEARNER = "learner"


# Context roles (and the institution administrator) that teach: the mapping
# Instructor, TeachingAssistant, Administrator -> instructor of that course.
_TEACHING = (
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#",
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
)
_LEARNING = (
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Learner#",
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student",
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Learner",
)


def launch_role(roles: object) -> LaunchRole | None:
    """Instructor if any role teaches, else learner if any role learns, else None (a launch
    with no role we know, e.g. a guest, gets nothing). Teaching wins: a TA who is also
    enrolled as a learner reviews, as the LMS would let them."""
    if not isinstance(roles, list):
        return None
    names = [role for role in roles if isinstance(role, str)]
    if any(
        name == t or (t.endswith("#") and name.startswith(t)) for t in _TEACHING for name in names
    ):
        return LaunchRole.INSTRUCTOR
    if any(
        name == t or (t.endswith("#") and name.startswith(t)) for t in _LEARNING for name in names
    ):
        return LaunchRole.LEARNER
    return None
