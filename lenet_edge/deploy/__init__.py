"""Deploy to devices over SSH: one host (`release`), many (`fleet`), or as Ansible (`ansible`).

Nothing in this package imports TensorFlow; a device needs only the runtime extra.
"""
