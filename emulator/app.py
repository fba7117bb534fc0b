"""The emulator's Flask application: tenant API routes + console, wrapped in fault injection."""

from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from .console import console
from .errors import EmulatorError
from .faults import FaultInjector, FaultMiddleware, Journal
from .routes import config, oauth, sms
from .store import Store
from .ui import ui


def create_app(store: Store | None = None) -> Flask:
    app = Flask("emulator")
    app.json.sort_keys = False  # answers keep the field order of the documented samples
    app.config.update(STORE=store or Store(), FAULTS=FaultInjector(), JOURNAL=Journal())
    for blueprint in (oauth, sms, config, console, ui):
        app.register_blueprint(blueprint)

    @app.errorhandler(EmulatorError)
    def emulator_error(exc: EmulatorError):
        return jsonify(exc.body()), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify({"error": exc.name.lower().replace(" ", "_"), "error_description": exc.description}), exc.code

    app.wsgi_app = FaultMiddleware(app.wsgi_app, app.config["FAULTS"], app.config["JOURNAL"])
    return app
