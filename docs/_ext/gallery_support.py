"""The galleries' hooks: what the demos are run with at build time, and the PNG files they write.

The scripts in ``examples/`` run ``nablanet.demos``, which save their figures as PNG files in an
output folder (``--out DIR``) instead of leaving matplotlib figures open; ``reset_argv`` gives each
script its quick options and a folder of its own, and ``demo_png_scraper`` moves the PNG files that
appear there into the gallery page, after the code block that wrote them. Tutorials draw with
matplotlib and are scraped by sphinx-gallery's own matplotlib scraper.
"""

import shutil
import tempfile
from pathlib import Path

from sphinx_gallery.scrapers import figure_rst

# One folder per build process, one subfolder per script (removed when the process ends).
_OUTPUT = tempfile.TemporaryDirectory(prefix="nablanet-gallery-")

# What each example is run with: the demos' --quick runs show their claim in seconds, not minutes.
_ARGUMENTS = {
    "autoencoder": ["--quick", "--plot", "{out}/autoencoder.png"],
    "mc_dropout": ["--quick", "--plot", "{out}/mc_dropout.png"],
    "mnist1d": ["--quick", "--seed", "0"],
    "pinn": ["--quick", "--plot", "{out}/pinn.png"],
    "transformer_sort": ["--quick", "--plot", "{out}/transformer_sort.png"],
    "unet_darcy": ["--quick", "--plot", "{out}/unet_darcy.png"],
    "vae": ["--quick", "--plot", "{out}/vae.png"],
}
_DEMO_ARGUMENTS = ["--quick", "--out", "{out}"]


def output_folder(src_file) -> Path:
    """The folder that the script ``src_file`` writes its PNG files into, created if missing."""
    folder = Path(_OUTPUT.name) / Path(src_file).stem
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def reset_argv(gallery_conf, script_vars) -> list[str]:
    """``sys.argv[1:]`` of a gallery script: the demos' quick options and their output folder."""
    src_file = Path(script_vars["src_file"])
    if src_file.parent.name != "examples":
        return []
    arguments = _ARGUMENTS.get(src_file.stem, _DEMO_ARGUMENTS)
    out = output_folder(src_file)
    return [argument.format(out=out) for argument in arguments]


def demo_png_scraper(block, block_vars, gallery_conf) -> str:
    """sphinx-gallery image scraper: the PNG files a demo wrote during this block, moved into the page."""
    folder = output_folder(block_vars["src_file"])
    image_paths = []
    for png in sorted(folder.glob("*.png")):
        target = next(block_vars["image_path_iterator"])
        shutil.move(png, target)
        image_paths.append(target)
    return figure_rst(image_paths, gallery_conf["src_dir"])


def reset_seed(gallery_conf, fname) -> None:
    """Before each script: nablanet's default seed back to 0, so every page is the same at every build."""
    import nablanet

    nablanet.seed(0)
