"""FedMix across real sites on Flower's deployment engine (docs/deployment.md).

One SuperLink (the coordinator) runs :mod:`fedmix.flower.server_app`; every site runs a SuperNode
that executes :mod:`fedmix.flower.client_app` on its own HDF5 files. Both sides call the same
round-loop functions as the simulation (:mod:`fedmix.train`), so a deployment and a simulation of
the same run configuration compute the same models.
"""
