"""What a person does on the pages, step by step, shared by the browser tests and benchmarks."""


def fill_sign_up_form(page, *, business_name, slug, email, password):
    page.get_by_label("Business name").fill(business_name)
    page.get_by_label("Workspace address").fill(slug)
    page.get_by_label("Your email").fill(email)
    page.get_by_label("Password").fill(password)
