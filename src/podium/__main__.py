from podium.cli.main import run

run()
