"""What a person does on the pages, step by step, shared by the browser tests and benchmarks."""


def fill_sign_up_form(page, *, business_name, slug, email, password):
    page.get_by_label("Business name").fill(business_name)
    page.get_by_label("Workspace address").fill(slug)
    page.get_by_label("Your email").fill(email)
    page.get_by_label("Password").fill(password)


def sign_in(page, url, email, password):
    """Open ``url`` signed out, sign in on the form it leads to, and be back on ``url``."""
    page.goto(url)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url)
