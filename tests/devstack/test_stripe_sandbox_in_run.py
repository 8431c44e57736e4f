"""`make run` starts the Stripe sandbox exactly when no real Stripe key is configured."""

import shlex

from smsplatform.devstack import stripe_sandbox


def test_without_a_key_the_sandbox_joins_the_process_group(tmp_path, monkeypatch):
    monkeypatch.setattr(stripe_sandbox, "ROOT", tmp_path)
    env = {"SITE_URL": "http://localhost:8030"}
    processes = stripe_sandbox.sandbox_process(env, web_port=8030)

    args = shlex.split(processes["stripe"])
    assert args[1:4] == ["manage.py", "stripe_sandbox", "--port"]
    port = int(args[4])
    assert port == 8030 + stripe_sandbox.PORT_OFFSET
    assert args[args.index("--webhook-url") + 1] == "http://localhost:8030/webhooks/stripe/"
    assert env["STRIPE_API_BASE"] == f"http://127.0.0.1:{port}"
    assert env["STRIPE_SECRET_KEY"] == args[args.index("--secret-key") + 1]
    assert env["STRIPE_WEBHOOK_SECRET"] == args[args.index("--webhook-secret") + 1]


def test_a_real_key_in_the_environment_or_dotenv_keeps_stripe_itself(tmp_path, monkeypatch):
    env = {"STRIPE_SECRET_KEY": "sk_live_real"}
    assert stripe_sandbox.sandbox_process(env, web_port=8000) == {}
    assert env == {"STRIPE_SECRET_KEY": "sk_live_real"}

    dotenv = tmp_path / ".env"
    dotenv.write_text("DEBUG=1\nSTRIPE_SECRET_KEY=sk_test_from_dotenv  # mine\n")
    assert stripe_sandbox.real_key_configured({}, dotenv)
    dotenv.write_text("STRIPE_SECRET_KEY=\n# STRIPE_SECRET_KEY=sk_commented\n")
    assert not stripe_sandbox.real_key_configured({}, dotenv)
