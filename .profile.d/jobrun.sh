# Heroku sources .profile.d/ at dyno start: the C buildpack's `make` leaves
# the binary in build/, and Procfile and Scheduler entries call `jobrun`.
export PATH="$HOME/build:$PATH"
