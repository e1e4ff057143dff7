"""Package metadata comes from settings.ini (the nbdev single source of truth)."""
from configparser import ConfigParser
from pathlib import Path

import setuptools
from setuptools.command.build_py import build_py


class BuildWithLessons(build_py):
    "Ship the lesson notebooks as package data (ft_course/lessons/), so `ft_course assign/grade` work from a pip install."

    def run(self):
        super().run()
        lessons = here / cfg["nbs_path"]
        target = Path(self.build_lib) / cfg["lib_path"] / "lessons"
        target.mkdir(parents=True, exist_ok=True)
        for nb in sorted(lessons.glob("[0-9]*.ipynb")): self.copy_file(str(nb), str(target / nb.name))

here = Path(__file__).parent
config = ConfigParser(delimiters=["="])
config.read(here / "settings.ini", encoding="utf-8")
cfg = config["DEFAULT"]

requirements = cfg.get("requirements", "").split()
# lessons: what the notebooks import beyond the package itself (Colab installs `ft_course[lessons]`)
lessons_requirements = cfg.get("lessons_requirements", "").split()
dev_requirements = cfg.get("dev_requirements", "").split() + lessons_requirements
console_scripts = cfg.get("console_scripts", "").split()
readme = here / "README.md"

setuptools.setup(
    name=cfg["lib_name"],
    version=cfg["version"],
    description=cfg["description"],
    long_description=readme.read_text(encoding="utf-8") if readme.exists() else cfg["description"],
    long_description_content_type="text/markdown",
    author=cfg["author"],
    author_email=cfg["author_email"],
    license="Apache-2.0",
    url=cfg["git_url"],
    keywords=cfg["keywords"].split(),
    python_requires=f">={cfg['min_python']}",
    packages=setuptools.find_packages(include=[cfg["lib_path"], cfg["lib_path"] + ".*"]),
    include_package_data=True,
    install_requires=requirements,
    extras_require={"lessons": lessons_requirements, "dev": dev_requirements},
    entry_points={"console_scripts": console_scripts, "nbdev": [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
    classifiers=[
        "Development Status :: 3 - Alpha",
        "Intended Audience :: Education",
        "Natural Language :: English",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
    project_urls={"Source": cfg["git_url"]},
    zip_safe=False,
    cmdclass={"build_py": BuildWithLessons},
)
