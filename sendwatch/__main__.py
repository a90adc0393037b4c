from sendwatch.cli import app

app(prog_name="sendwatch")
