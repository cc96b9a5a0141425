"""The pages face of the service: server-rendered HTML for students and instructors.

The JSON API (``service.api``) and these pages are two thin faces of one domain: routes here
resolve the caller (a console session instead of a bearer key), call the same domain
services and presenters, and render Jinja2 templates. No rule lives in a template.
"""
