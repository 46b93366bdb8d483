from flask.cli import AppGroup

sites_cli = AppGroup("sites", help="Publish and manage hosted sites.")
