"""The Cloud Action bundle: manifest, settings, build, deploy, deliveries and the demo."""
