"""The server-rendered pages' shared pieces: the browser session (a server-side row
behind an HttpOnly cookie), CSRF protection, the page guard, the layout and login."""
