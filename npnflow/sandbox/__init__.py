"""The NIPR sandbox: NIPR's protocols over a generated world (see README.md beside this file).

Start it with `npnflow.sandbox.server.NiprSandbox`; the world alone comes from
`npnflow.sandbox.generator.generate_world`.
"""
