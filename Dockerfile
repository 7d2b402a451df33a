FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# The site's requirements only: tests and developer tools (requirements-dev.txt,
# devtools/, tests/) stay out of the image; .dockerignore keeps them out of the
# build context too.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY manage.py ./
COPY bin ./bin
COPY photosite ./photosite
COPY tagging ./tagging
COPY templates ./templates
COPY static ./static
RUN useradd --create-home photosite && mkdir -p /data/media /data/deepface && chown -R photosite /data
USER photosite

EXPOSE 8000
CMD ["gunicorn", "photosite.wsgi", "--bind", "0.0.0.0:8000"]
