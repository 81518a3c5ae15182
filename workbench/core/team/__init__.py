"""Team projects: the project's database on a PostgreSQL server (claims, mask versions, audit).

``url`` parses and checks the database address kept in ``workbench.json`` (host, port and
database name only, never credentials) and opens connections with one-line errors; ``schema``
creates the tables and the annotator role's grants; ``db`` is the store behind
:class:`workbench.core.project.Project` for team projects; ``project`` adds the label storage
(versions in the database), claims and review on top of the same Project API.
"""
