# core has no models: this module exists so that Django sends core its post_migrate signal,
# on which core.database.grants_apply gives the app role its rights.
