"""LTI 1.3 Advantage: the tool side (OIDC login, launches, Deep Linking, AGS, Dynamic
Registration).

Implemented on PyJWT rather than on PyLTI1p3 or its fork pylti1p3next: those do their I/O
with blocking ``requests`` to any URL (our platform fetches must pass the same SSRF checks
as callbacks and go to checked addresses only), keep state in a cookie-backed session
(inside an LMS iframe browsers drop third-party cookies) and would need an adapter of our
own for FastAPI anyway. The JOSE work (RS256 signatures, JWKS) is PyJWT's; the protocol
rules are written out here, each one tested against a real platform (tests/lti).

``tokens`` and ``claims`` are pure (no web or database imports); ``service`` holds the
launch rules, ``ags`` the grade passback, ``registration`` Dynamic Registration.
"""
