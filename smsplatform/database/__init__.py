"""The PostgreSQL backend: django-tenants' schema switching, with fewer round trips."""
