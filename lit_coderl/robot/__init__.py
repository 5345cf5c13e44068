"""The robot domain: the 8-function robot API, the shared execution harness, RoboSim (the angelic simulator used
as a reward), the procedural task generator and the prompt formats. See ``docs/robosim-roboeval.md``."""
